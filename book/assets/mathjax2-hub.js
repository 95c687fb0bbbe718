/* ipywidgets' HTML widget manager typesets widget labels with MathJax 2's call
 *   MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])
 * but the book loads MathJax 3, which has no Hub: every widget then throws "reading 'Queue'" and the widget
 * stays empty. This deferred script runs after MathJax's own (deferred) script and before the widgets render,
 * and answers that one call with MathJax 3's typesetPromise. */
(function () {
  "use strict";
  var mathjax = window.MathJax;
  if (!mathjax || mathjax.Hub) {
    return;
  }
  function typeset(element) {
    var current = window.MathJax;
    if (!current || typeof current.typesetPromise !== "function") {
      return;
    }
    var ready = current.startup && current.startup.promise ? current.startup.promise : Promise.resolve();
    ready.then(function () {
      return current.typesetPromise([element]);
    }).catch(function () {});
  }
  mathjax.Hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
          typeset(job[2]);
        }
      }
    },
  };
})();
