// Copy-link buttons on the credential page. Without JavaScript the link stays in a
// read-only field that can be selected and copied by hand, and the button stays hidden.
"use strict";
document.querySelectorAll("[data-copy-target]").forEach(function (button) {
  var field = document.getElementById(button.getAttribute("data-copy-target"));
  var status = document.getElementById(button.getAttribute("data-copy-status"));
  if (!field || !status) {
    return;
  }
  button.hidden = false;
  function copied() {
    status.textContent = "Link copied.";
  }
  function byHand() {
    field.focus();
    field.select();
    try {
      if (document.execCommand("copy")) {
        copied();
        return;
      }
    } catch (error) {
      // Fall through to the instruction below.
    }
    status.textContent = "The link is selected: copy it with your keyboard or menu.";
  }
  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(copied, byHand);
    } else {
      byHand();
    }
  });
});
