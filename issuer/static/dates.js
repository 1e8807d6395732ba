// Dates in the reader's language: each <time data-in-words datetime="..."> (or <time> inside
// an element marked data-in-words) the server wrote
// in English ("6 December 2026") is rewritten with the browser's Intl, e.g. "6. Dezember 2026".
// English readers keep the server's words, which every page (and the PDF) uses alike.
"use strict";
(function () {
  var language = navigator.language || "en";
  if (typeof Intl === "undefined" || !Intl.DateTimeFormat || /^en\b/i.test(language)) {
    return;
  }
  var format = new Intl.DateTimeFormat(navigator.languages || undefined, { dateStyle: "long", timeZone: "UTC" });
  document.querySelectorAll("time[data-in-words], [data-in-words] time[datetime]").forEach(function (element) {
    var when = new Date(element.getAttribute("datetime"));
    if (!isNaN(when.getTime())) {
      element.textContent = format.format(when);
    }
  });
})();
