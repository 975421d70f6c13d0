/* SchedulerX dashboard: small progressive enhancements. Every page works without it. */
(function () {
  "use strict";

  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /** The CSRF token for fetch() calls: send it as the X-CSRFToken header. */
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  window.SchedulerX = { csrfToken: csrfToken };

  /* Live countdowns: <span data-countdown="2025-01-01T10:00:00+00:00"> */
  function formatLeft(ms) {
    if (ms <= 0) { return "due now"; }
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60), sec = s % 60;
    function pad(n) { return n < 10 ? "0" + n : String(n); }
    if (d > 0) { return "in " + d + "d " + h + "h " + pad(m) + "m"; }
    if (h > 0) { return "in " + h + "h " + pad(m) + "m " + pad(sec) + "s"; }
    return "in " + m + "m " + pad(sec) + "s";
  }
  function tickCountdowns() {
    var now = Date.now();
    $all("[data-countdown]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-countdown"));
      if (!isNaN(at)) { el.textContent = formatLeft(at - now); el.classList.toggle("due", at <= now); }
    });
  }

  /* Filters that apply on change. */
  function autosubmit() {
    $all("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
  }

  /* <form data-confirm="Really?"> asks first. */
  function confirmForms() {
    document.addEventListener("submit", function (ev) {
      var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) { ev.preventDefault(); }
    });
  }

  /* <button data-copy="#input"> copies the input's value. */
  function copyButtons() {
    $all("[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var input = document.querySelector(btn.getAttribute("data-copy"));
        input.select();
        var done = function () { btn.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done);
        } else { document.execCommand("copy"); done(); }
      });
    });
  }

  /* Accounts: show the settings of the chosen platform only; the others are disabled, so not sent. */
  function platformSettings() {
    var select = document.querySelector("[data-platform-select]");
    if (!select) { return; }
    function show() {
      $all("fieldset[data-platform]").forEach(function (fs) {
        var on = fs.getAttribute("data-platform") === select.value;
        fs.hidden = !on;
        fs.disabled = !on;
      });
    }
    select.addEventListener("change", show);
    show();
  }

  /* <textarea data-count="#counter"> keeps a character count. */
  function counters() {
    $all("textarea[data-count]").forEach(function (ta) {
      var out = document.querySelector(ta.getAttribute("data-count"));
      var update = function () { out.textContent = Array.from(ta.value).length; };
      ta.addEventListener("input", update);
      update();
    });
  }

  /* Set-up: suggest the browser's timezone instead of UTC. */
  function guessTimezone() {
    var input = document.querySelector("[data-guess-timezone]");
    if (!input || input.value !== "UTC" || !window.Intl) { return; }
    try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* keep UTC */ }
  }

  /* Logs: new events arrive over server-sent events and are put on top of the table. */
  function liveLogs() {
    var table = document.getElementById("log-table");
    if (!table || !table.getAttribute("data-stream-url") || !window.EventSource) { return; }
    var tbody = table.querySelector("tbody"), status = document.getElementById("live-status");
    var pubUrl = table.getAttribute("data-publication-url");
    var maxRows = 500;
    function setState(state, text) {
      if (!status) { return; }
      status.setAttribute("data-state", state);
      status.querySelector(".live-text").textContent = text;
    }
    function cell(tr, content, cls) {
      var td = document.createElement("td");
      if (cls) { td.className = cls; }
      if (typeof content === "string") { td.textContent = content; } else if (content) { td.appendChild(content); }
      tr.appendChild(td);
    }
    function subject(ev) {
      if (!ev.subject_type) { var s = document.createElement("span"); s.className = "muted"; s.textContent = "—"; return s; }
      var label = ev.subject_type + " #" + ev.subject_id;
      if (ev.subject_type === "publication" && ev.subject_id) {
        var a = document.createElement("a");
        a.href = pubUrl.replace(/0$/, String(ev.subject_id));
        a.textContent = label;
        return a;
      }
      return label;
    }
    var source = new EventSource(table.getAttribute("data-stream-url"));
    source.onopen = function () { setState("on", "live"); };
    source.onerror = function () { setState("retry", "reconnecting…"); };
    source.onmessage = function (msg) {
      var ev = JSON.parse(msg.data);
      if (tbody.querySelector('tr[data-id="' + ev.id + '"]')) { return; }
      var tr = document.createElement("tr");
      tr.setAttribute("data-id", ev.id);
      tr.className = "fresh";
      cell(tr, ev.time, "nowrap");
      var lvl = document.createElement("span");
      lvl.className = "level level-" + ev.level;
      lvl.textContent = ev.level;
      cell(tr, lvl);
      cell(tr, ev.source);
      cell(tr, subject(ev), "nowrap");
      cell(tr, ev.message);
      tbody.insertBefore(tr, tbody.firstChild);
      var empty = document.getElementById("log-empty");
      if (empty) { empty.remove(); }
      while (tbody.children.length > maxRows) { tbody.removeChild(tbody.lastChild); }
    };
  }

  /* AI: the test form runs what is in the editor now, saved or not. */
  function testCurrentText() {
    $all("form[data-copy-body]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var source = document.querySelector(form.getAttribute("data-copy-body"));
        if (source) { form.querySelector('input[name="body"]').value = source.value; }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    testCurrentText();
    tickCountdowns();
    if (document.querySelector("[data-countdown]")) { window.setInterval(tickCountdowns, 1000); }
    autosubmit();
    confirmForms();
    copyButtons();
    platformSettings();
    counters();
    guessTimezone();
    liveLogs();
  });
})();
