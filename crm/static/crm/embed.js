/* The inquiry form on a studio's own website. Paste where the form goes:
 *   <div data-picpick-inquiry="FORM-SLUG"></div>
 *   <script src="https://STUDIO-SITE/inquire/embed.js" async></script>
 * Each such element gets an iframe of the form from the site this script came from; the frame
 * reports its height by postMessage and is resized to it (no scrollbars), and the element
 * fires a "picpick:inquiry-sent" event when the form was sent (for the site's own analytics).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
  var mounted = [];

  function mount(el) {
    var slug = el.getAttribute("data-picpick-inquiry");
    if (el.hasAttribute("data-picpick-mounted") || !SLUG.test(slug || "")) return;
    el.setAttribute("data-picpick-mounted", "");
    var frame = document.createElement("iframe");
    // The page it sits on, for the studio's records: no query string (it may hold anything).
    var from = (location.origin + location.pathname).slice(0, 300);
    frame.src = origin + "/inquire/" + slug + "/embed/?from=" + encodeURIComponent(from);
    frame.title = el.getAttribute("data-title") || "Contact form";
    frame.style.display = "block";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = "640px";
    el.appendChild(frame);
    mounted.push({ el: el, frame: frame });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || typeof event.data !== "object") return;
    for (var i = 0; i < mounted.length; i++) {
      var item = mounted[i];
      if (item.frame.contentWindow !== event.source) continue;
      var data = event.data;
      if (data.type === "picpick-inquiry:height") {
        var height = Number(data.height);
        if (height > 0 && height < 20000) item.frame.style.height = Math.ceil(height) + "px";
      } else if (data.type === "picpick-inquiry:sent") {
        item.el.dispatchEvent(new CustomEvent("picpick:inquiry-sent", { bubbles: true }));
        var top = item.frame.getBoundingClientRect().top;
        if (top < 0) item.frame.scrollIntoView({ block: "start" });
      }
    }
  });

  function scan() {
    var els = document.querySelectorAll("[data-picpick-inquiry]");
    for (var i = 0; i < els.length; i++) mount(els[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
