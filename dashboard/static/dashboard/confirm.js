// Asks before a form that moves data is sent: <form data-confirm="Question?">. A listener in a
// file rather than an onsubmit attribute, because the Content-Security-Policy runs no inline
// script; listening on the document also covers forms that htmx swaps in later.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
