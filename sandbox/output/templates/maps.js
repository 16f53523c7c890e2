// The map of a sandbox page. The page ships its base map, zone outlines and overlays once and every map as numbers
// (a colour class per zone, a tooltip list, title, legend, overlay names); this script builds the deck.gl layers.
// Selects named in `selects` pick the map; with `swipe`, one choice of a select shows two maps split by a slider.
(function () {
  const P = JSON.parse(document.getElementById("map-data").textContent);
  const pick = (id) => document.getElementById(id);
  const NO_DATA = [200, 200, 200, 110];
  const containers = [pick("deck-container"), pick("deck-right")];
  const decks = [];
  let viewState = P.view;

  function zoneLayer(entry) {
    const tips = P.tips[entry.tips];
    const data = P.zones.map((ring, i) => ({
      polygon: ring, tooltip: tips[i],
      color: entry.classes[i] < 0 ? NO_DATA : entry.colors[entry.classes[i]].concat([150]),
    }));
    return {"@@type": "PolygonLayer", id: "zones", data: data, getPolygon: "@@=polygon", getFillColor: "@@=color",
            getLineColor: [60, 60, 60, 160], lineWidthMinPixels: 1, pickable: true, autoHighlight: true};
  }
  function layers(entry) {
    return P.base.concat([zoneLayer(entry)], entry.overlays.map((name) => P.overlays[name]));
  }
  function sync(change) {
    viewState = change.viewState;
    decks.forEach((deck) => deck && deck.setProps({viewState: viewState}));
  }
  function draw(i, entry) {
    if (!decks[i]) {
      decks[i] = createDeck({container: containers[i], tooltip: P.tooltip,
                             jsonInput: {initialViewState: viewState, views: P.views, layers: layers(entry)}});
      decks[i].setProps({viewState: viewState, onViewStateChange: sync});
    } else {
      updateDeck({layers: layers(entry)}, decks[i]);
    }
  }
  function key(values) { return values.join("|"); }
  function show() {
    const values = P.selects.map((id) => pick(id).value);
    const swipe = P.swipe && pick(P.swipe.select).value === P.swipe.value;
    const slot = P.swipe ? P.selects.indexOf(P.swipe.select) : -1;
    let left = P.maps[key(values)];
    let legend = left && left.legend;
    if (swipe) {
      values[slot] = P.swipe.left; left = P.maps[key(values)];
      values[slot] = P.swipe.right; const right = P.maps[key(values)];
      legend = right.legend;  // the same classes, and the scenario's overlays (a flood) too
      draw(1, right);
      pick("map-title").textContent = "Today (left) and with the scenario (right): " + left.title.replace(/^Today: /, "");
    } else {
      pick("map-title").textContent = left.title;
    }
    draw(0, left);
    pick("legend").innerHTML = legend;
    if (containers[1]) containers[1].style.display = swipe ? "block" : "none";
    if (pick("swipe-bar")) pick("swipe-bar").style.display = swipe ? "block" : "none";
    if (swipe) cut();
  }
  function cut() {
    const share = Number(pick("swipe").value);
    containers[1].style.clipPath = "inset(0 0 0 " + share + "%)";
    pick("swipe-line").style.left = share + "%";
  }
  function refill() {
    // A select whose choices depend on another (the thresholds of the chosen indicator).
    const d = P.dependent;
    if (!d) return;
    const target = pick(d.select), current = target.value, options = d.options[pick(d.on).value];
    target.innerHTML = "";
    options.forEach((option) => {
      const element = document.createElement("option");
      element.value = option[0]; element.textContent = option[1]; target.appendChild(element);
    });
    target.value = options.some((option) => option[0] === current) ? current : options[options.length - 1][0];
  }
  P.selects.forEach((id) => pick(id).addEventListener("change", () => {
    if (P.dependent && id === P.dependent.on) refill();
    show();
  }));
  refill();
  if (pick("swipe")) pick("swipe").addEventListener("input", cut);
  show();
})();
