/*
 * Product list filters (templates/portal/products.html). The page works without this
 * file: the GET form reloads the page and the server redirects to the URL without empty
 * fields. With it:
 *  - empty fields are never sent, so htmx pushes (and people share) clean URLs;
 *  - one search is one history entry: typing, Enter and the change event can each fire
 *    the same search, and a search identical to the last one sent is not sent again
 *    (otherwise one back press would land on the same results);
 *  - when the back button restores a page from htmx's history, the form is set from
 *    that page's URL (the restored snapshot holds the markup, not what was typed);
 *  - the "筛选" fold and the facets are opened on wide screens (folded on phones), also
 *    after htmx swaps in new results.
 */
(function () {
  "use strict";

  var FORM_ID = "product-filters";
  var WIDE = "(min-width: 640px)";

  function form() {
    return document.getElementById(FORM_ID);
  }

  // The address of the last search the form sent (or of the page the browser shows).
  var lastSearch = null;

  // Both sides written by URLSearchParams, so the same search compares equal.
  function address(path, params) {
    var query = params.toString();
    return path + (query ? "?" + query : "");
  }

  function currentAddress() {
    return address(window.location.pathname, new URLSearchParams(window.location.search));
  }

  function forgetLastSearch() {
    lastSearch = currentAddress();
  }

  function dropEmpty(data) {
    Array.from(data.keys()).forEach(function (key) {
      if (!data.getAll(key).some(function (v) { return String(v).trim() !== ""; })) {
        data.delete(key);
      }
    });
  }

  function configureSearch(evt) {
    if (!evt.detail || evt.detail.elt !== form()) return;
    var data = evt.detail.formData;
    dropEmpty(data);
    var search = address(evt.detail.path, new URLSearchParams(data));
    if (lastSearch === null) forgetLastSearch();
    if (search === lastSearch) {
      evt.preventDefault();
      return;
    }
    lastSearch = search;
  }

  // A plain submit (htmx not loaded): leave empty fields out of the URL.
  function disableEmptyOnSubmit(evt) {
    var f = evt.target;
    if (f !== form() || window.htmx) return;
    var emptied = Array.prototype.filter.call(f.elements, function (el) {
      return el.name && !el.disabled && typeof el.value === "string" && el.value.trim() === "";
    });
    emptied.forEach(function (el) { el.disabled = true; });
    window.setTimeout(function () {
      emptied.forEach(function (el) { el.disabled = false; });
    }, 0);
  }

  function syncFromUrl() {
    var f = form();
    if (!f) return;
    var params = new URLSearchParams(window.location.search);
    Array.prototype.forEach.call(f.elements, function (el) {
      if (!el.name || el.type === "submit" || el.type === "button") return;
      var value = params.get(el.name) || "";
      if (el.tagName === "SELECT") {
        var found = Array.prototype.some.call(el.options, function (o) { return o.value === value; });
        el.value = found ? value : (el.options.length ? el.options[0].value : "");
      } else if (el.type === "checkbox" || el.type === "radio") {
        el.checked = params.getAll(el.name).indexOf(el.value) !== -1;
      } else {
        el.value = value;
      }
    });
    forgetLastSearch();
    openOnWideScreens();
  }

  // The filters and the facets: folded on phones, open on wide screens.
  function openOnWideScreens() {
    if (!window.matchMedia || !window.matchMedia(WIDE).matches) return;
    document.querySelectorAll("details[data-open-wide]").forEach(function (fold) {
      fold.open = true;
    });
  }

  document.addEventListener("htmx:configRequest", configureSearch);
  // A search that failed can be sent again.
  document.addEventListener("htmx:sendError", forgetLastSearch);
  document.addEventListener("htmx:responseError", forgetLastSearch);
  document.addEventListener("submit", disableEmptyOnSubmit, true);
  document.addEventListener("htmx:historyRestore", syncFromUrl);
  document.addEventListener("htmx:afterSwap", openOnWideScreens);
  window.addEventListener("pageshow", function (evt) {
    if (evt.persisted) syncFromUrl();
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", openOnWideScreens);
  } else {
    openOnWideScreens();
  }
})();
