/* Notebook figures on a narrow screen. matplotlib saves them at 100 dpi, and a row of panels is 800-1500 px
 * wide; scaled down to a phone's column, its 9-point labels end up 4-5 px high. A figure that the column would
 * shrink below SQUEEZED of its width keeps READABLE of it instead, inside a box that scrolls sideways (the
 * page itself stays as wide as the screen) and that links to the image file, so that a tap opens it full size.
 * On a wide screen (the theme's desktop layout, from 992 px) nothing changes. */
(function () {
  "use strict";
  var SQUEEZED = 0.6;
  var READABLE = 0.65;
  var NARROW = window.matchMedia("(max-width: 991.98px)");
  var BOX = "figure-scroll";
  var MORE = "figure-scroll--more";  // more of the figure lies to the right: the box fades at its right edge

  // An explorer's picture (ipywidgets) is laid out by its widget, at half its pixels for high-density screens.
  function images(root) {
    return Array.prototype.filter.call(root.querySelectorAll(".cell_output img"), function (img) {
      return !img.closest(".jupyter-widgets, .widget-subarea");
    });
  }

  function markMore(box) {
    box.classList.toggle(MORE, box.scrollLeft + box.clientWidth < box.scrollWidth - 1);
  }

  function wrap(img) {
    var src = img.getAttribute("src") || "";
    var isFile = !/^(data|blob):/i.test(src);
    var box = document.createElement(isFile ? "a" : "span");
    box.className = BOX;
    if (isFile) {
      box.href = src;
    }
    img.parentNode.insertBefore(box, img);
    box.appendChild(img);
    box.addEventListener("scroll", function () { markMore(box); }, { passive: true });
    return box;
  }

  function fit(img) {
    var output = img.closest(".cell_output");
    var natural = img.naturalWidth;
    if (!output || !img.complete || natural === 0) {
      return;
    }
    var style = getComputedStyle(output);
    var column = output.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    var wrapped = img.parentElement.classList.contains(BOX);
    if (NARROW.matches && column > 0 && column < SQUEEZED * natural) {
      var box = wrapped ? img.parentElement : wrap(img);
      img.style.minWidth = Math.min(natural, Math.round(READABLE * natural)) + "px";
      markMore(box);
    } else if (wrapped) {
      img.style.minWidth = "";
      img.parentElement.classList.remove(MORE);
    }
  }

  var pending = null;
  function refitSoon() {
    if (pending === null) {
      // After the layout settles: fitting changes an output's height, which the observer would report again.
      pending = window.requestAnimationFrame(function () {
        pending = null;
        images(document).forEach(fit);
      });
    }
  }

  function start() {
    var figures = images(document);
    var outputs = [];
    figures.forEach(function (img) {
      img.addEventListener("load", function () { fit(img); });
      var output = img.closest(".cell_output");
      if (outputs.indexOf(output) < 0) {
        outputs.push(output);
      }
      fit(img);
    });
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(refitSoon);
      outputs.forEach(function (output) { observer.observe(output); });
    } else {
      window.addEventListener("resize", refitSoon);
    }
    NARROW.addEventListener("change", refitSoon);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
