import { InvalidInputError } from './errors';
import { formatAmount, isCurrency, minorUnits, parseAmount, parseCurrency, sumAmounts } from './money';

describe('money', () => {
  describe(parseCurrency.name, () => {
    it('accepts ISO 4217 codes and upper-cases them', () => {
      expect(parseCurrency('usd')).toBe('USD');
      expect(parseCurrency('JPY')).toBe('JPY');
      expect(isCurrency('eur')).toBe(true);
    });

    it.each([['ABC'], ['US'], ['USDX'], [''], [' USD'], [840], [null]])('rejects %p', (code) => {
      expect(() => parseCurrency(code, 'price.currency')).toThrow(InvalidInputError);
      try {
        parseCurrency(code, 'price.currency');
      } catch (error) {
        expect((error as InvalidInputError).details[0].path).toBe('price.currency');
      }
    });
  });

  describe(minorUnits.name, () => {
    it('comes from the runtime, not a table of ours', () => {
      expect(minorUnits('USD')).toBe(2);
      expect(minorUnits('JPY')).toBe(0);
      expect(minorUnits('KWD')).toBe(3);
    });
  });

  describe(parseAmount.name, () => {
    it('parses decimal strings exactly', () => {
      expect(parseAmount('12.34', 'USD').toString()).toBe('12.34');
      expect(parseAmount('0.1', 'USD').plus(parseAmount('0.2', 'USD')).toString()).toBe('0.3');
      expect(parseAmount('100', 'JPY').toString()).toBe('100');
      expect(parseAmount('1.234', 'KWD').toString()).toBe('1.234');
      expect(parseAmount('9999999999999999.99', 'USD').toFixed(2)).toBe('9999999999999999.99');
    });

    it.each([
      ['1e3', 'USD'],
      ['-1', 'USD'],
      ['0.001', 'USD'],
      ['0', 'USD'],
      ['0.00', 'USD'],
      ['1.5', 'JPY'],
      ['100.0', 'JPY'],
      ['12.', 'USD'],
      ['.5', 'USD'],
      ['012', 'USD'],
      [' 1', 'USD'],
      ['1,00', 'USD'],
      ['NaN', 'USD'],
      ['Infinity', 'USD'],
      ['10000000000000000', 'USD'],
    ])('rejects %p in %s', (value, currency) => {
      expect(() => parseAmount(value, currency)).toThrow(InvalidInputError);
    });

    it('reports the path it was given, in the shared error format', () => {
      const error = (() => {
        try {
          parseAmount('1.5', 'JPY', { path: 'items.2.price' });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({
        message: 'items.2.price: JPY has no minor unit',
        details: [{ path: 'items.2.price', message: 'JPY has no minor unit' }],
      });
    });

    it('rejects numbers: a float has already lost exactness', () => {
      expect(() => parseAmount(12.34, 'USD')).toThrow(InvalidInputError);
      expect(() => parseAmount(100, 'JPY')).toThrow(InvalidInputError);
    });

    it('names the path in the error', () => {
      expect(() => parseAmount('0.001', 'USD', { path: 'refund.amount' })).toThrow(
        expect.objectContaining({ details: [expect.objectContaining({ path: 'refund.amount' })] }),
      );
    });

    it('accepts zero only when asked', () => {
      expect(parseAmount('0', 'USD', { allowZero: true }).isZero()).toBe(true);
    });
  });

  describe(formatAmount.name, () => {
    it('prints exactly the currency minor digits', () => {
      expect(formatAmount('0.3', 'USD')).toBe('0.30');
      expect(formatAmount('0.3000', 'USD')).toBe('0.30');
      expect(formatAmount('100.0000', 'JPY')).toBe('100');
      expect(formatAmount('1.5', 'KWD')).toBe('1.500');
      expect(formatAmount('12345678901234.5600', 'USD')).toBe('12345678901234.56');
    });

    it('adds 0.10 and 0.20 to 0.30 exactly', () => {
      expect(sumAmounts(['0.10', '0.20'], 'USD')).toBe('0.30');
      expect(sumAmounts(Array(10).fill('0.10'), 'USD')).toBe('1.00');
    });
  });
});
