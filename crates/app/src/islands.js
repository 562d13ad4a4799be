(bundles) => {
  const pkg = "/pkg/";
  const done = (failed) => {
    window.__cairnHydratedAt = performance.now();
    document.documentElement.dataset[failed ? "hydrationFailed" : "hydrated"] = "";
  };
  const onPage = new Set([...document.querySelectorAll("leptos-island")].map((el) => el.dataset.component));
  if (!onPage.size) return done(false);
  const holds = (bundle, name) => bundle.islands.includes(name);
  // One bundle when one holds every island on the page (the smallest such); else, greedily, the
  // bundle holding most of the islands still without one.
  let chosen = bundles.filter((b) => [...onPage].every((n) => holds(b, n))).sort((a, b) => a.bytes - b.bytes).slice(0, 1);
  if (!chosen.length) {
    const left = new Set(onPage);
    while (left.size) {
      const score = (b) => [...left].filter((n) => holds(b, n)).length;
      const best = bundles.reduce((a, b) => (score(b) > score(a) || (score(b) === score(a) && b.bytes < a.bytes) ? b : a));
      if (!score(best)) break;
      chosen.push(best);
      for (const n of best.islands) left.delete(n);
    }
  }
  const started = chosen.map((bundle) => {
    const wasm = fetch(pkg + bundle.wasm);
    return import(pkg + bundle.js).then(async (mod) => {
      await mod.default({ module_or_path: wasm });
      mod.hydrate();
      return mod;
    });
  });
  Promise.all(started)
    .then(async (modules) => {
      // Islands inside an island's children hydrate after it, once it has handed them over.
      const handOvers = [];
      const visit = async (el) => {
        const tag = el.tagName;
        if (tag === "LEPTOS-ISLAND") {
          const name = el.dataset.component;
          const mod = modules.find((m) => typeof m[name] === "function");
          if (mod) {
            const handOver = handOvers[handOvers.length - 1];
            if (handOver) handOver();
            await mod[name](el);
          } else {
            console.warn(`no bundle hydrates the island ${name}`);
          }
        }
        if (tag === "LEPTOS-CHILDREN") handOvers.push(el.$$on_hydrate);
        for (const child of el.children) await visit(child);
        if (tag === "LEPTOS-CHILDREN") handOvers.pop();
      };
      await visit(document.body);
      done(false);
    })
    .catch((error) => {
      console.error("the page's code did not load", error);
      done(true);
    });
}
