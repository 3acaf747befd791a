// The quarterly bulletin: sortable tables (click a header; again to reverse) and the
// print button of the printable version.
"use strict";
(function () {
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });

  function key(cell, numeric) {
    if (!cell) return "";
    if (numeric) {
      const value = parseFloat(cell.dataset.sort);
      return Number.isNaN(value) ? -Infinity : value;
    }
    return cell.textContent.trim();
  }

  document.querySelectorAll("table.bl-sortable").forEach((table) => {
    const heads = Array.from(table.tHead.rows[0].cells);
    heads.forEach((th, index) => {
      th.tabIndex = 0;
      th.classList.add("bl-sort");
      const sort = () => {
        const numeric = th.dataset.type === "num";
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = key(a.cells[index], numeric);
          const y = key(b.cells[index], numeric);
          const order = numeric ? x - y : String(x).localeCompare(String(y), "zh-CN");
          return ascending ? order : -order;
        });
        rows.forEach((row) => body.appendChild(row));
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter") sort(); });
    });
  });
})();
