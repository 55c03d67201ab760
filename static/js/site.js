/* Progressive enhancement only: every page works without this file.
   Adds a "Copy" button to each highlighted code snippet (elements marked data-copy). */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy failed"));
      } catch (error) {
        reject(error);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  function addCopyButton(container) {
    var pre = container.querySelector("pre");
    if (!pre || container.querySelector(".copy-button")) {
      return;
    }
    var label = container.getAttribute("data-copy-label") || "code";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button secondary";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + label);
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    button.addEventListener("click", function () {
      copyText(pre.textContent).then(
        function () {
          button.textContent = "Copied";
          status.textContent = "Copied " + label + " to the clipboard.";
        },
        function () {
          button.textContent = "Copy failed";
          status.textContent = "Could not copy; select the code and copy it by hand.";
        }
      );
      window.setTimeout(function () {
        button.textContent = "Copy";
      }, 2000);
    });
    container.insertBefore(button, container.firstChild);
    container.appendChild(status);
  }

  // Shared with compare.js (loaded after this file).
  window.kbCopyText = copyText;

  function init() {
    var blocks = document.querySelectorAll("[data-copy]");
    for (var i = 0; i < blocks.length; i++) {
      addCopyButton(blocks[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
