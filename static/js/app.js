/*
 * LoanMart progressive enhancement. Every page works without this file; the server
 * rejects duplicate submissions on its own. This only makes the common cases nicer:
 *  - submit buttons are disabled (with a spinner) while their form is submitting;
 *  - the error summary of a re-rendered form receives focus;
 *  - the active item of a scrolled phone navigation strip is scrolled into view;
 *  - a print button opens the print dialog.
 */
(function () {
  "use strict";

  var SUBMITTERS = 'button[type="submit"], button:not([type]), input[type="submit"]';
  // A plain POST that answers with a download leaves the page in place: re-enable later.
  var REENABLE_AFTER_MS = 10000;

  function submitButtons(form) {
    var inside = Array.prototype.slice.call(form.querySelectorAll(SUBMITTERS));
    var outside = form.id
      ? Array.prototype.slice.call(document.querySelectorAll('[form="' + CSS.escape(form.id) + '"]'))
      : [];
    return inside.concat(outside).filter(function (el) {
      return el.matches(SUBMITTERS);
    });
  }

  function setBusy(form, busy, submitter) {
    if (busy) {
      form.setAttribute("aria-busy", "true");
    } else {
      form.removeAttribute("aria-busy");
    }
    submitButtons(form).forEach(function (button) {
      if (busy) {
        if (button.disabled) return;
        button.disabled = true;
        button.dataset.lmDisabled = "1";
        if (button === submitter || !submitter) button.classList.add("is-loading");
      } else if (button.dataset.lmDisabled) {
        button.disabled = false;
        delete button.dataset.lmDisabled;
        button.classList.remove("is-loading");
      }
    });
  }

  function isHtmxForm(form) {
    return ["hx-post", "hx-put", "hx-patch", "hx-delete", "hx-get",
            "data-hx-post", "data-hx-put", "data-hx-patch", "data-hx-delete", "data-hx-get"]
      .some(function (name) { return form.hasAttribute(name); });
  }

  // Plain (non-htmx) forms. Listening on document in the bubble phase runs after any
  // handler that cancels the submission, so a cancelled submit never disables anything.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute("data-allow-resubmit") || isHtmxForm(form)) return;
    var submitter = event.submitter || null;
    // Disable on the next tick: a button disabled now would drop its own name=value
    // from the submitted data.
    window.setTimeout(function () {
      setBusy(form, true, submitter);
      window.setTimeout(function () { setBusy(form, false); }, REENABLE_AFTER_MS);
    }, 0);
  });

  // htmx forms: busy from request start to request end (values are already collected).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (form instanceof HTMLFormElement && !form.hasAttribute("data-allow-resubmit")) {
      setBusy(form, true, null);
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (form instanceof HTMLFormElement) setBusy(form, false);
  });

  // Back/forward cache restores the page as it was left: with disabled buttons.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
      setBusy(form, false);
    });
  });

  function focusErrorSummary(root) {
    var summary = (root || document).querySelector(".error-summary[data-autofocus]");
    if (summary) {
      summary.focus();
    }
  }

  function revealActiveNav() {
    var nav = document.querySelector(".site-nav");
    var active = nav && nav.querySelector('[aria-current="page"]');
    if (!active || nav.scrollWidth <= nav.clientWidth) return;
    var target = active.offsetLeft - (nav.clientWidth - active.offsetWidth) / 2;
    nav.scrollLeft = Math.max(0, target);
  }

  // A "打印" button (data-print) opens the browser's print dialog. It is hidden until this
  // script shows it: without JavaScript the page says to use the browser's own command.
  function revealPrintButtons() {
    document.querySelectorAll("[data-print][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) window.print();
    closeMenus(event.target.closest && event.target.closest("details[data-menu]"));
  });

  // Header menus (<details data-menu>): one open at a time; a click elsewhere or Escape
  // folds them. Without JavaScript each still opens and closes on its own summary.
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.open = false;
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details[data-menu][open]");
    if (!open) return;
    closeMenus(null);
    open.querySelector("summary").focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary(document);
    revealActiveNav();
    revealPrintButtons();
  });

  // A form re-rendered by htmx with errors: move focus to its summary.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.querySelector && target.querySelector(".error-summary[data-autofocus]")) {
      focusErrorSummary(target);
    }
  });
})();
