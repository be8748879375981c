// Asks before a destructive button submits its form (data-confirm="question"). Without JavaScript the
// form simply submits: the server still checks the role, the CSRF token and the record's version.
for (const button of document.querySelectorAll("button[data-confirm]")) {
  button.addEventListener("click", (event) => {
    if (!window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });
}
