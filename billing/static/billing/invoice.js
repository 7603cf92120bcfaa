/* The client's quote page: the totals follow the choice as it changes.
 *
 * The page works without this script (its "Recalculate the total" button posts the choice and
 * the server draws the page again). With it, each change of the package or an add-on asks the
 * server for the totals of the new choice (the same computation as the invoice's) and redraws
 * them; the button is then not needed and is hidden. Amounts are text from the server: nothing
 * is computed here, and nothing is written as markup.
 */
(function () {
  "use strict";

  var form = document.getElementById("quote-form");
  if (!form || !window.fetch) return;
  var url = form.getAttribute("data-totals-url");
  var section = document.getElementById("quote-totals");
  var button = document.getElementById("recalculate");
  var pending = 0;

  function query() {
    var params = new URLSearchParams();
    var chosen = form.querySelector("input[name=package]:checked");
    if (chosen) params.append("package", chosen.value);
    form.querySelectorAll("input[name=addon]:checked").forEach(function (input) {
      params.append("addon", input.value);
    });
    return params.toString();
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function draw(data) {
    var heading = document.getElementById("totals-heading");
    while (section.lastChild && section.lastChild !== heading) section.removeChild(section.lastChild);
    if (data.error) {
      section.appendChild(element("p", data.error.message, "error"));
      return;
    }
    var table = element("table", undefined, "totals");
    table.appendChild(element("caption", "Your total", "visually-hidden"));
    var body = element("tbody");
    body.id = "totals-rows";
    data.rows.forEach(function (row) {
      var tr = element("tr", undefined, "total-" + row.kind);
      var th = element("th", row.label);
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      tr.appendChild(element("td", row.amount, "num"));
      body.appendChild(tr);
    });
    table.appendChild(body);
    section.appendChild(table);
    var list = element("ul", undefined, "schedule-list");
    list.id = "schedule-rows";
    data.schedule.forEach(function (part) {
      var item = element("li", part.label + ": ");
      item.appendChild(element("strong", part.amount));
      item.appendChild(document.createTextNode(", " + part.due));
      list.appendChild(item);
    });
    section.appendChild(list);
  }

  function refresh() {
    var ticket = ++pending;
    section.setAttribute("aria-busy", "true");
    fetch(url + "?" + query(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        if (ticket !== pending) return; // a later change is on its way
        draw(data);
        section.removeAttribute("aria-busy");
      })
      .catch(function () {
        section.removeAttribute("aria-busy");
        if (button) button.hidden = false; // the server can still recalculate
      });
  }

  form.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "package" || name === "addon") refresh();
  });
  if (button) button.hidden = true;
})();
