document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
  if (!a) return;
  ev.preventDefault();
  var id = a.getAttribute("href").slice(1), tries = 0;
  (function show() {
    var card = document.getElementById(id);
    if (!card) { if (++tries < 50) setTimeout(show, 100); return; }
    var turn = card.closest(".pq-turn");
    document.querySelectorAll(".pq-sources .pq-turn").forEach(function (s) {
      s.classList.toggle("pq-current", s === turn);
    });
    document.querySelectorAll(".pq-source.pq-active").forEach(function (s) {
      s.classList.remove("pq-active");
    });
    card.classList.add("pq-active");
    card.scrollIntoView({behavior: "smooth", block: "nearest"});
  })();
}, true);
