// Small page behaviours, no framework: the page's live socket and its indicator, relative ages
// that keep ticking between updates, confirmations for plain forms, and the print button.
(function () {
  "use strict";

  // One socket per page: the element marked `data-live` connects to its `ws-connect` URL with the
  // topic of every live part it holds (`data-live-topic` on it and inside it, e.g. the board's
  // health strip). Composed here, before htmx opens the socket: this script is deferred, so it
  // runs once the page is parsed and before htmx processes it.
  document.querySelectorAll("[data-live][ws-connect]").forEach(function (root) {
    var topics = [];
    [root].concat(Array.prototype.slice.call(root.querySelectorAll("[data-live-topic]"))).forEach(function (el) {
      var topic = el.getAttribute("data-live-topic");
      if (topic && topics.indexOf(topic) < 0) topics.push(topic);
    });
    var query = topics.map(function (topic) { return "topic=" + encodeURIComponent(topic); }).join("&");
    root.setAttribute("ws-connect", root.getAttribute("ws-connect").split("?")[0] + "?" + query);
  });

  function setLive(state, text) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.dataset.state = state;
      var label = el.querySelector("[data-live-text]");
      if (label) label.textContent = text;
    });
  }

  // A change made between this page's render and its socket opening (or while the socket was
  // down) was pushed to nobody: on open, ask for a fresh render so the page catches up by itself.
  var socket = null;
  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    setLive("live", "Live");
    socket.send("refresh");
  });
  ["htmx:wsClose", "htmx:wsError"].forEach(function (name) {
    document.addEventListener(name, function () {
      setLive("paused", "Live updates paused, reconnecting… (reload shows the latest)");
    });
  });

  // A push that arrives while this page's own request is in flight would replace the form that
  // sent it, and htmx could then not place the response. Set such a push aside and, once the
  // response is in, ask the server for a fresh render instead.
  var inFlight = 0;
  var missed = false;
  document.addEventListener("htmx:beforeRequest", function () { inFlight += 1; });
  function requestDone() {
    inFlight = Math.max(0, inFlight - 1);
    if (inFlight === 0 && missed && socket) {
      missed = false;
      setTimeout(function () { socket.send("refresh"); }, 0);
    }
  }
  ["htmx:beforeSwap", "htmx:sendError", "htmx:timeout", "htmx:sendAbort"].forEach(function (name) {
    document.addEventListener(name, requestDone);
  });
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    if (inFlight > 0) {
      event.preventDefault();
      missed = true;
    }
  });

  // A push that changes nothing must not replace what is on screen: a click landing on a button
  // while it is swapped for an identical copy would be lost.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail;
    var incoming = detail.fragment && detail.fragment.nodeType === 11 ? detail.fragment.firstElementChild : detail.fragment;
    if (incoming && detail.target && incoming.className === detail.target.className &&
        incoming.innerHTML === detail.target.innerHTML) {
      detail.shouldSwap = false;
    }
  });

  function ageText(seconds) {
    if (seconds < 60) return "just now";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + (minutes % 60) + " min";
    return Math.floor(hours / 24) + " days";
  }

  function tickAges() {
    var now = Date.now();
    document.querySelectorAll("time[data-age]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) el.textContent = ageText(Math.max(0, (now - at) / 1000));
    });
  }
  setInterval(tickAges, 30000);

  // Health data says how old it is, and turns grey when it stops arriving: a dead host cannot
  // report itself, so the page judges from the age of the newest sample.
  function clock(seconds) {
    if (seconds < 90) return Math.round(seconds) + " s ago";
    return ageText(seconds) + " ago";
  }
  function tickHealth() {
    var now = Date.now();
    document.querySelectorAll("[data-taken-at][data-stale-after]").forEach(function (el) {
      var at = Date.parse(el.dataset.takenAt);
      if (isNaN(at)) return;
      var age = Math.max(0, (now - at) / 1000);
      var stale = age > Number(el.dataset.staleAfter);
      var label = el.querySelector("[data-age-seconds]");
      if (label) label.textContent = clock(age);
      if (el.hasAttribute("data-host")) {
        // A host chip on the board: a host that stopped reporting cannot say so itself.
        el.classList.toggle("state-unreachable", stale);
        var hostState = el.querySelector(".host-state");
        if (hostState && stale) hostState.textContent = "unreachable since " + new Date(at).toLocaleTimeString();
      }
      if (el.hasAttribute("data-widget")) {
        el.classList.toggle("state-stale", stale);
        var since = el.querySelector("[data-stale-since]");
        if (since) since.textContent = stale ? " · no data since " + new Date(at).toLocaleTimeString() : "";
        var state = el.querySelector("[data-widget-state]");
        if (state && stale) state.textContent = "no fresh data";
      }
    });
  }
  setInterval(tickHealth, 1000);
  document.addEventListener("htmx:oobAfterSwap", tickHealth);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });
})();
