/* "Republish this story": put on article pages, next to a link or button such as
   <a href="{{ public_url }}/republish/ARTICLE-ID" data-republish="ARTICLE-ID">Republish this story</a>
   <script src="{{ public_url }}/republish/snippet.js" defer></script>
   Clicking opens the republish page in a small window; without JavaScript the link still works. */
(function () {
  "use strict";
  var base = {{ public_url | tojson }};
  function open(event) {
    var id = this.getAttribute("data-republish");
    if (!id || !/^[a-z0-9][a-z0-9_-]{0,199}$/.test(id)) { return; }
    event.preventDefault();
    var url = base + "/republish/" + encodeURIComponent(id);
    var win = window.open(url, "republish", "width=760,height=820,scrollbars=yes");
    if (win) { win.opener = null; } else { window.location.href = url; }
  }
  function init() {
    var links = document.querySelectorAll("[data-republish]");
    for (var i = 0; i < links.length; i++) { links[i].addEventListener("click", open); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
