"""Analytics (A12, I8): pseudonymous behaviour events, daily rollups and the dashboards
and reports built on them."""
