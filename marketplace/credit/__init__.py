"""Credit health (PRODUCT.md P8): the platform's own score for the borrower, with the
factors behind it, tips and its history. For the borrower only: never shown or sent to
institutions (PRODUCT.md §0, 断直连), and not a 征信 report."""
