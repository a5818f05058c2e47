/* Slipway page behaviour. No inline scripts anywhere (a strict CSP is planned): everything the
   pages do beyond plain links and forms is here or in htmx attributes. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // "Copy" next to a one-time secret: select it and copy it to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) return;
    input.focus();
    input.select();
    var done = function () { button.textContent = "Copied"; button.classList.add("copied"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // Close the account menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // An htmx request that failed (403, 404, 500, network): say so instead of failing silently.
  function flash(text) {
    var box = document.getElementById("messages");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "alert alert-error";
    div.setAttribute("role", "alert");
    div.textContent = text;
    box.appendChild(div);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "You are not permitted to do that." :
      status === 404 ? "That no longer exists, or it is not visible to you." :
      "Something went wrong (HTTP " + status + "). Reload the page and try again.";
    flash(text);
  });
  document.addEventListener("htmx:sendError", function () {
    flash("Slipway did not answer. Check your connection and try again.");
  });
})();
