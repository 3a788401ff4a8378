// Exact integer arithmetic for the terminal, mirroring the server's units and rounding rules.
// Money is integer cents, a price is an integer scaled by 10^decimal, a quantity is an integer in
// 10^-8 of the base asset. Nothing here uses floating point: values are BigInt from parse to format.
// The only numbers computed here for display are the pre-trade ESTIMATES (margin, liquidation price);
// everything about an open position (PnL, margin, liquidation) is shown as the server sends it.

export const QUANTITY_DECIMALS = 8;

const TEN = 10n;

export function pow10(n) {
  return TEN ** BigInt(n);
}

/** Parses a decimal text ("0.01", "119416.85") into an integer scaled by 10^decimals, or throws
 * Error with a sentence saying why (more decimals than the scale allows is refused, not rounded). */
export function parseScaled(text, decimals, what = "value") {
  const trimmed = String(text ?? "").trim();
  const match = /^(\d*)(?:\.(\d*))?$/.exec(trimmed);
  if (!trimmed || !match || (match[1] === "" && (match[2] ?? "") === "")) {
    throw new Error(`${what} must be a number like 12.5`);
  }
  const whole = match[1] || "0";
  // trailing zeros change nothing ("1.50" is 1.5), as on the server
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > decimals) {
    throw new Error(decimals === 0 ? `${what} must be a whole number`
      : `${what} allows at most ${decimals} decimal${decimals === 1 ? "" : "s"}`);
  }
  return BigInt(whole) * pow10(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}

/** An integer scaled by 10^decimals as text with exactly `decimals` decimals ("119416.8450"). */
export function formatScaled(value, decimals, { group = true } = {}) {
  let v = BigInt(value);
  const negative = v < 0n;
  if (negative) v = -v;
  const unit = pow10(decimals);
  let whole = (v / unit).toString();
  if (group) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = decimals > 0 ? "." + (v % unit).toString().padStart(decimals, "0") : "";
  return (negative ? "-" : "") + whole + fraction;
}

/** Cents as dollars: 123456 -> "$1,234.56", -5 -> "-$0.05". */
export function formatCents(cents) {
  const v = BigInt(cents);
  const text = formatScaled(v < 0n ? -v : v, 2);
  return (v < 0n ? "-$" : "$") + text;
}

/** A quantity in 10^-8 units as the shortest exact decimal ("0.01"). */
export function formatQuantity(units) {
  const text = formatScaled(units, QUANTITY_DECIMALS, { group: false });
  return text.replace(/\.?0+$/, "");
}

/** The number of decimals of a step given as a decimal text ("0.00001" -> 5). */
export function stepDecimals(stepText) {
  const fraction = String(stepText).split(".")[1] ?? "";
  return fraction.replace(/0+$/, "").length;
}

export function ceilDiv(numerator, denominator) {
  // BigInt division truncates towards zero; for a positive denominator this is the exact ceiling
  const q = numerator / denominator;
  return numerator % denominator > 0n ? q + 1n : q;
}

/** price * quantity / notionalDenominator(decimal) is the notional in cents. */
export function notionalDenominator(decimal) {
  return pow10(decimal + QUANTITY_DECIMALS - 2);
}

/** ESTIMATE of the margin a market order will lock: ceil(notional / leverage) cents at `price`
 * (the server computes the real one at the fill price). */
export function estimateMarginCents(price, quantity, leverage, decimal) {
  return ceilDiv(BigInt(price) * BigInt(quantity), notionalDenominator(decimal) * BigInt(leverage));
}

/** Floor division for a positive divisor (BigInt `/` truncates towards zero). */
export function floorDiv(numerator, denominator) {
  const q = numerator / denominator;
  return numerator % denominator !== 0n && numerator < 0n ? q - 1n : q;
}

/** The largest n whose half-to-even rounding n / denominator is at most `cents`: the inverse of the
 * server's PnL rounding, so the liquidation level below is the server's to the price unit. */
export function maxNumeratorRoundingTo(cents, denominator) {
  const half = denominator / 2n;
  if (denominator % 2n === 1n) return cents * denominator + half;
  const odd = ((cents % 2n) + 2n) % 2n;
  return cents * denominator + half - odd;
}

/** ESTIMATE of the liquidation price (scaled) for a position opened at `price` with `margin` cents and
 * no maintenance requirement, by the server's rule: the first price on the grid at which
 * margin + PnL (rounded half-to-even to the cent) falls to zero. 0n for a LONG that can never be
 * liquidated; a SHORT's level is at least 1. */
export function estimateLiquidationPrice(side, price, quantity, margin, decimal) {
  const numerator = maxNumeratorRoundingTo(-BigInt(margin), notionalDenominator(decimal));
  const room = floorDiv(numerator, BigInt(quantity));
  if (side === "LONG") {
    const level = BigInt(price) + room;
    return level > 0n ? level : 0n;
  }
  const level = BigInt(price) - room;
  return level > 1n ? level : 1n;
}

/** Margin level in percent with two decimals as text (equity / used margin), or null without margin. */
export function marginLevelText(equityCents, usedMarginCents) {
  const used = BigInt(usedMarginCents);
  if (used <= 0n) return null;
  const basisPoints = (BigInt(equityCents) * 10000n) / used; // truncated: a level is never overstated
  return formatScaled(basisPoints, 2) + "%";
}
