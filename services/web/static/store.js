/* What the pages show (data) and the one loop that fetches it. A refresh asked for while one
   runs makes one more round afterwards, never a second fetch at the same time. */

export const data = {};

let round = async () => {};  // app.js sets it: fetch what the page needs, draw, pause

export function setRound(fn) { round = fn; }

let refreshing = false, again = false;

export async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    do {
      again = false;
      await round();
    } while (again);
  } finally {
    refreshing = false;
  }
}
