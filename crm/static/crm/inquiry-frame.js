/* Inside the embedded form: tell the embedding page how tall the form is (and that it was
 * sent), so embed.js sizes the iframe to it. Only a height and a "sent" flag go out, nothing
 * the person typed, so any parent may read them ("*"): which sites may frame the form at all
 * is the page's Content-Security-Policy (frame-ancestors: the form's embed origins). */
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function post(message) {
    window.parent.postMessage(message, "*");
  }
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      post({ type: "picpick-inquiry:height", height: height });
    }
  }
  if (window.ResizeObserver) new ResizeObserver(report).observe(document.documentElement);
  window.addEventListener("load", report);
  report();
  if (document.getElementById("sent")) post({ type: "picpick-inquiry:sent" });
})();
