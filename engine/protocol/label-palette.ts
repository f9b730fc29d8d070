/**
 * @module
 * Colours for label-map PNGs. The pixel values stay the label values (an indexed PNG), so clients
 * read exact labels; the palette only decides what a viewer shows. Background is black and every
 * foreground label a fully saturated, full-value hue, so a mask with labels 0/1 is not a black image.
 */

/** Golden-angle hue steps keep neighbouring labels far apart on the colour wheel, for any count. */
const GOLDEN_ANGLE_DEG = 137.50776405003785;

/** HSV with s = v = 1 to 8-bit RGB; at least one channel is always 255. */
function brightHue(hueDeg: number): [number, number, number] {
  const h = (((hueDeg % 360) + 360) % 360) / 60;
  const x = Math.round(255 * (1 - Math.abs((h % 2) - 1)));
  const sector = Math.floor(h);
  const rgb: [number, number, number][] = [
    [255, x, 0],
    [x, 255, 0],
    [0, 255, x],
    [0, x, 255],
    [x, 0, 255],
    [255, 0, x],
  ];
  return rgb[sector];
}

/** The palette for labels 0..maxLabel (at most 255): black, then red, then golden-angle hues. */
export function labelPalette(maxLabel: number): [number, number, number][] {
  if (!Number.isInteger(maxLabel) || maxLabel < 0 || maxLabel > 255) {
    throw new RangeError(`a PNG palette holds labels 0..255, got ${maxLabel}`);
  }
  const palette: [number, number, number][] = [[0, 0, 0]];
  for (let label = 1; label <= maxLabel; label++) {
    palette.push(brightHue((label - 1) * GOLDEN_ANGLE_DEG));
  }
  return palette;
}
