// On a phone, app.css stacks a list table's cells; each cell then shows its column's heading,
// taken from the table's own header so templates need not repeat it on every cell.
document.querySelectorAll("table.list").forEach((table) => {
  const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  table.querySelectorAll("tbody tr").forEach((row) => {
    [...row.children].forEach((cell, i) => {
      if (!cell.hasAttribute("data-label") && cell.colSpan === 1 && headings[i]) cell.dataset.label = headings[i];
    });
  });
});
