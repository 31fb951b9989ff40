// Show only the fields the chosen document uses; the server checks the CITES rules either way.
(function () {
  var type = document.getElementById("doc_type");
  if (!type) return;
  var box12 = document.getElementById("box-12");
  var foreign = document.getElementById("foreign_permit_no");
  var label = document.querySelector("label[for=foreign_permit_no]");
  var labels = {
    "import": "Exporting country's export permit No.",
    "export": "Importing country's import permit No. (Appendix I)",
    "reexport": "Importing country's import permit No. (Appendix I)"
  };
  function update() {
    var t = type.value;
    box12.hidden = t !== "reexport" && t !== "import";
    foreign.closest(".field").hidden = !(t in labels);
    document.getElementById("foreign_permit_date").closest(".field").hidden = !(t in labels);
    if (t in labels) label.textContent = labels[t];
  }
  type.addEventListener("change", update);
  update();
})();
