// Show only the fields the chosen document uses; the server checks the CITES rules either way.
(function () {
  var type = document.getElementById("doc_type");
  if (!type) return;
  var origin = document.getElementById("origin_country").closest(".field");
  var foreign = document.getElementById("foreign_permit_no");
  var label = document.querySelector("label[for=foreign_permit_no]");
  var labels = {
    "import": "Exporting country's export permit No.",
    "export": "Importing country's import permit No. (Appendix I)",
    "reexport": "Permit No. under which the specimens were imported"
  };
  function update() {
    var t = type.value;
    origin.hidden = t !== "reexport";
    foreign.closest(".field").hidden = !(t in labels);
    if (t in labels) label.textContent = labels[t];
  }
  type.addEventListener("change", update);
  update();
})();
