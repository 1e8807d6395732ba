// Copy buttons on the credential page (its link, the embed HTML), and the embed preview. Without JavaScript the link stays in a
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
    status.textContent = button.getAttribute("data-copied-message") || "Link copied.";
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

// The embed snippet: choosing a size shows that size's HTML (made on the server, escaped
// there) and previews it as it will look where it is pasted.
document.querySelectorAll("select[data-embed-code]").forEach(function (select) {
  var code = document.getElementById(select.getAttribute("data-embed-code"));
  var preview = document.getElementById(select.getAttribute("data-embed-preview"));
  if (!code || !preview) {
    return;
  }
  select.addEventListener("change", function () {
    var option = select.options[select.selectedIndex];
    code.value = option.getAttribute("data-snippet") || "";
    preview.replaceChildren(
      document.createRange().createContextualFragment(option.getAttribute("data-preview") || "")
    );
  });
});
