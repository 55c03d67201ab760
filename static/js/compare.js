/* Comparison pages, progressive enhancement only: without this file every filter,
   cell and link still works (plain GET forms and <details>).
   - the filter form applies itself as soon as a filter changes, and leaves empty
     filters out of the URL;
   - an "Expand all cells" button opens or closes every cell;
   - a link to one cell (#dimension--subject) opens that cell;
   - every cell is opened for printing, and closed again afterwards;
   - the "#" link of a row or a cell also copies the link to the clipboard (without
     JavaScript it still goes to the row, so the address bar holds the link). */
(function () {
  "use strict";

  function setUpFilters(form) {
    var hint = form.querySelector("[data-cmp-autosubmit-hint]");
    if (hint) {
      hint.hidden = false;
    }
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("select, input[type=checkbox]")) {
        if (typeof form.requestSubmit === "function") {
          form.requestSubmit();
        } else {
          form.submit();
        }
      }
    });
    // Keep shared links short: empty fields do not go into the query string.
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && field.type !== "checkbox" && field.value === "") {
          field.disabled = true;
        }
      });
    });
    // Coming back to the page from the history must not leave fields disabled.
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        field.disabled = false;
      });
    });
  }

  function cells() {
    return document.querySelectorAll(".cmp-table td > details");
  }

  function setUpExpand(button) {
    if (!cells().length) {
      return;
    }
    button.hidden = false;
    function refresh() {
      var all = cells();
      var open = Array.prototype.every.call(all, function (details) {
        return details.open;
      });
      button.textContent = open ? "Collapse all cells" : "Expand all cells";
      button.setAttribute("aria-pressed", open ? "true" : "false");
    }
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-pressed") !== "true";
      Array.prototype.forEach.call(cells(), function (details) {
        details.open = open;
      });
      refresh();
    });
    document.addEventListener(
      "toggle",
      function (event) {
        if (event.target.matches && event.target.matches(".cmp-table td > details")) {
          refresh();
        }
      },
      true
    );
    refresh();
  }

  function openTargetCell() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) {
      return;
    }
    var target = document.getElementById(id);
    if (target && target.matches(".cmp-table td")) {
      var details = target.querySelector("details");
      if (details) {
        details.open = true;
      }
    }
  }

  function setUpPrinting() {
    var closed = [];
    window.addEventListener("beforeprint", function () {
      closed = Array.prototype.filter.call(cells(), function (details) {
        return !details.open;
      });
      closed.forEach(function (details) {
        details.open = true;
      });
    });
    window.addEventListener("afterprint", function () {
      closed.forEach(function (details) {
        details.open = false;
      });
      closed = [];
    });
  }

  function setUpCopyLinks() {
    if (typeof window.kbCopyText !== "function") {
      return;
    }
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    document.body.appendChild(status);
    Array.prototype.forEach.call(document.querySelectorAll("a[data-copy-link]"), function (link) {
      link.title = "Go to this place and copy a link to it";
    });
    // One listener for every row and cell link; the link still goes to its row or cell.
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-copy-link]") : null;
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return;
      }
      window.kbCopyText(link.href).then(
        function () {
          link.setAttribute("data-copied", "");
          status.textContent = "Link copied to the clipboard.";
          window.setTimeout(function () {
            link.removeAttribute("data-copied");
          }, 2000);
        },
        function () {
          status.textContent = "Could not copy; the address bar holds the link.";
        }
      );
    });
  }

  function start() {
    var form = document.querySelector("[data-cmp-filters]");
    if (form) {
      setUpFilters(form);
    }
    var button = document.querySelector("[data-cmp-expand]");
    if (button) {
      setUpExpand(button);
    }
    openTargetCell();
    window.addEventListener("hashchange", openTargetCell);
    setUpPrinting();
    setUpCopyLinks();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
