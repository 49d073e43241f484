// Health-check form: show only the fields of the chosen kind (without JS every kind's fields show).
(function () {
  "use strict";
  var form = document.getElementById("check-form");
  if (!form) { return; }
  function show() {
    var kind = form.elements.kind.value;
    form.querySelectorAll(".kind-fields").forEach(function (set) { set.hidden = set.dataset.kind !== kind; });
  }
  form.elements.kind.addEventListener("change", show);
  show();
})();
