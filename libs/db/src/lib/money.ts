import { Prisma } from '../generated/prisma/client';
import { invalid } from './validation';

/**
 * Exact money. Amounts travel as decimal strings (`"12.34"`), are computed with `Prisma.Decimal` (decimal.js)
 * and stored in numeric(20,4) columns; a JS number never holds an amount, because 0.1 + 0.2 !== 0.3.
 *
 * Currencies are the ISO 4217 codes the runtime's ICU knows (`Intl.supportedValuesOf('currency')`), and a
 * currency's minor digits are ICU's (CLDR) `maximumFractionDigits`: USD 2, JPY 0, KWD 3. CLDR differs from the
 * ISO table for a few currencies whose minor unit is not used in practice (HUF, COP, IDR: 0), which is what we
 * want for charging.
 */
/** numeric(20,4): 16 integer digits, 4 fraction digits. */
export const MONEY_COLUMN_SCALE = 4;
const MONEY_COLUMN_LIMIT = new Prisma.Decimal('1e16');

const AMOUNT_PATTERN = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const CURRENCY_PATTERN = /^[A-Za-z]{3}$/;

let currencies: ReadonlySet<string> | undefined;
const minorUnitsCache = new Map<string, number>();

function supportedCurrencies(): ReadonlySet<string> {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies;
}

export function isCurrency(code: unknown): code is string {
  return typeof code === 'string' && CURRENCY_PATTERN.test(code) && supportedCurrencies().has(code.toUpperCase());
}

/** An ISO 4217 code, upper-cased (`"usd"` → `"USD"`); anything else is an `InvalidInputError` at `path`. */
export function parseCurrency(code: unknown, path = 'currency'): string {
  if (!isCurrency(code)) throw invalid(path, 'must be an ISO 4217 currency code');
  return code.toUpperCase();
}

/** Digits after the decimal point for the (already validated) currency: USD 2, JPY 0, KWD 3. */
export function minorUnits(currency: string): number {
  let digits = minorUnitsCache.get(currency);
  if (digits === undefined) {
    digits = Math.min(
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2,
      MONEY_COLUMN_SCALE,
    );
    minorUnitsCache.set(currency, digits);
  }
  return digits;
}

export interface ParseAmountOptions {
  /** Where the value came from, for the error's details (`amount`, `items.2.price`). */
  path?: string;
  /** Accept 0 (a balance, a filter); amounts charged or refunded are strictly positive (the default). */
  allowZero?: boolean;
}

/**
 * Parses an amount strictly: a string of digits with an optional fraction of at most the currency's minor
 * digits. Numbers (`12.34` as a float has already lost exactness), exponents, signs, leading zeros, spaces and
 * values the column cannot hold are rejected. `"12.3"` and `"12.30"` are the same amount.
 */
export function parseAmount(value: unknown, currency: string, options: ParseAmountOptions = {}): Prisma.Decimal {
  const path = options.path ?? 'amount';
  if (typeof value !== 'string') throw invalid(path, 'must be a decimal string such as "12.34"');
  const match = AMOUNT_PATTERN.exec(value);
  if (!match) throw invalid(path, 'must be a decimal string such as "12.34" (digits, optional "." and fraction)');
  const digits = minorUnits(currency);
  const fraction = match[2] ?? '';
  if (fraction.length > digits) {
    throw invalid(path, digits === 0 ? `${currency} has no minor unit` : `${currency} allows at most ${digits} decimal places`);
  }
  const amount = new Prisma.Decimal(value);
  if (amount.isZero() && !options.allowZero) throw invalid(path, 'must be greater than 0');
  if (amount.gte(MONEY_COLUMN_LIMIT)) throw invalid(path, 'is too large');
  return amount;
}

/** For output: exactly the currency's minor digits (`"0.30"`, JPY `"100"`). */
export function formatAmount(value: Prisma.Decimal | string, currency: string): string {
  return new Prisma.Decimal(value).toFixed(minorUnits(currency), Prisma.Decimal.ROUND_HALF_EVEN);
}

/** Sum of amounts of one currency, formatted (`sumAmounts(["0.10", "0.20"], "USD")` → `"0.30"`). */
export function sumAmounts(values: ReadonlyArray<Prisma.Decimal | string>, currency: string): string {
  const total = values.reduce<Prisma.Decimal>((acc, v) => acc.plus(v), new Prisma.Decimal(0));
  return formatAmount(total, currency);
}
