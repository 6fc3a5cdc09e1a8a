/* The words the node speaks (GET /api/vocabulary, from events/vocabulary.py), loaded once.
   Pages compare against vocab.server_status.RUNNING and the like instead of keeping a copy,
   so a word changed on the server cannot leave a page colouring the old one. */
import { getJSON } from "./api.js";

export const vocab = {};
let loading = null;

/** Resolves once the vocabulary is here; after a failure the next call asks again. */
export function loadVocabulary() {
  loading ??= getJSON("/api/vocabulary").then(
    (words) => { Object.assign(vocab, words); },
    (e) => { loading = null; throw e; });
  return loading;
}
