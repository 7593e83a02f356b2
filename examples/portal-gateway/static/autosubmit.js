// Submits the SAML HTTP-POST binding form (the page has a button for browsers without scripts).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("autosubmit");
  if (form) { form.submit(); }
});
