// Accessibility fixes for what Django's admin draws with scripts or leaves unnamed.
// - select2 (autocomplete fields) names its combobox only by the chosen option's text, and
//   calls that text a read-only textbox with no name: the combobox gets the <select>'s own
//   name (set server-side, kb.admin_forms.LabelledRowsFormSet) then the chosen text.
// - A tabular inline's first header cell is empty: give it words for screen readers.
(function () {
  "use strict";

  function nameComboboxes(root) {
    root.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var label = select.getAttribute("aria-label") || (select.labels && select.labels[0] && select.labels[0].textContent);
      var combobox = select.parentElement.querySelector(".select2-selection[role=combobox]");
      if (!label || !combobox || !select.id) {
        return;
      }
      var labelId = select.id + "-a11y-name";
      if (!document.getElementById(labelId)) {
        var span = document.createElement("span");
        span.id = labelId;
        span.className = "visually-hidden";
        span.textContent = label.trim();
        select.parentElement.appendChild(span);
      }
      var chosen = combobox.querySelector(".select2-selection__rendered");
      if (chosen) {
        // It is the combobox's value, not a field of its own (select2 calls it a read-only textbox).
        chosen.removeAttribute("role");
        chosen.removeAttribute("aria-readonly");
      }
      combobox.setAttribute("aria-labelledby", labelId + (chosen && chosen.id ? " " + chosen.id : ""));
    });
  }

  function nameOriginalHeaders(root) {
    root.querySelectorAll("thead th.original").forEach(function (th) {
      if (!th.textContent.trim()) {
        var span = document.createElement("span");
        span.className = "visually-hidden";
        span.textContent = "Saved record";
        th.appendChild(span);
      }
    });
  }

  function fix() {
    nameComboboxes(document);
    nameOriginalHeaders(document);
  }

  // select2 starts on jQuery's ready (django.jQuery, from the form's media, runs before this
  // deferred script): a ready handler added now runs after it. Again for rows added to an inline.
  if (window.django && window.django.jQuery) {
    window.django.jQuery(fix);
  } else {
    window.addEventListener("load", fix);
  }
  document.addEventListener("formset:added", function () {
    window.setTimeout(fix, 0);
  });
})();
