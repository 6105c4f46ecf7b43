import type { Browser, Page } from 'playwright-core';

/**
 * Pixel checks run inside Chromium. The functions are source strings (page.evaluate runs them through the
 * DevTools protocol, which the page's CSP does not govern; the tests are type-checked without the DOM library).
 */

export interface CanvasInk {
  /** canvases inside the element, and those with a non-zero size */
  canvases: number;
  drawn: number;
  /** opaque pixels, and distinct colours among them (4 bits per channel) */
  pixels: number;
  distinct: number;
  /** pixels within a small distance of each colour asked for, in the order asked */
  matches: number[];
}

const CANVAS_INK = `(async ({ selector, colors }) => {
  const hex = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const targets = colors.map(hex);
  const out = { canvases: 0, drawn: 0, pixels: 0, distinct: 0, matches: targets.map(() => 0) };
  const seen = new Set();
  for (const canvas of document.querySelectorAll(selector + ' canvas')) {
    out.canvases++;
    if (!canvas.width || !canvas.height) continue;
    out.drawn++;
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] < 250) continue;
      out.pixels++;
      seen.add(((d[i] >> 4) << 8) | ((d[i + 1] >> 4) << 4) | (d[i + 2] >> 4));
      targets.forEach((t, k) => {
        if (Math.abs(d[i] - t[0]) + Math.abs(d[i + 1] - t[1]) + Math.abs(d[i + 2] - t[2]) <= 24) out.matches[k]++;
      });
    }
  }
  out.distinct = seen.size;
  return out;
})`;

/** What the canvases inside `selector` hold, and how many pixels are drawn in each of `colors` ("#rrggbb"). */
export function canvasInk(page: Page, selector: string, colors: readonly string[]): Promise<CanvasInk> {
  return page.evaluate<CanvasInk>(`${CANVAS_INK}(${JSON.stringify({ selector, colors })})`);
}

export interface ImageStats {
  width: number;
  height: number;
  /** distinct colours (4 bits per channel), the share of pixels not of the most common colour, luminance stdev */
  distinct: number;
  notBackground: number;
  lumaStdev: number;
}

const IMAGE_STATS = `(async (b64) => {
  const blob = await (await fetch('data:image/png;base64,' + b64)).blob();
  const img = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const counts = new Map();
  let sum = 0;
  let sq = 0;
  const n = d.length / 4;
  for (let i = 0; i < d.length; i += 4) {
    const key = ((d[i] >> 4) << 8) | ((d[i + 1] >> 4) << 4) | (d[i + 2] >> 4);
    counts.set(key, (counts.get(key) || 0) + 1);
    const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
    sum += y;
    sq += y * y;
  }
  const top = Math.max(...counts.values());
  const mean = sum / n;
  return { width: img.width, height: img.height, distinct: counts.size, notBackground: 1 - top / n, lumaStdev: Math.sqrt(Math.max(0, sq / n - mean * mean)) };
})`;

/** Decodes a PNG with Chromium's own decoder, in a blank page of the same browser, and measures it. */
export async function imageStats(browser: Browser, png: Buffer): Promise<ImageStats> {
  const page = await browser.newPage();
  try {
    return await page.evaluate<ImageStats>(`${IMAGE_STATS}(${JSON.stringify(png.toString('base64'))})`);
  } finally {
    await page.close();
  }
}
