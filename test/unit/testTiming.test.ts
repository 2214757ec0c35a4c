// The test-only timer override (`wgmpls datapath --test-timing JSON`): what it accepts, and that
// bad input is refused naming the field. The net tests check that the environment is not read.
import { defaultTiming, parseTestTiming } from '../../datapath/device/constants';

describe('parseTestTiming', () => {
  test('overrides only the fields given', () => {
    const t = parseTestTiming('{"rekeyAfterTime":2500,"keepaliveTimeout":1000}');
    expect(t).toEqual({ ...defaultTiming, rekeyAfterTime: 2500, keepaliveTimeout: 1000 });
    expect(defaultTiming.rekeyAfterTime).toBe(120_000); // the defaults are not touched
  });

  test.each([
    ['not json', /must be a JSON object/],
    ['[1]', /must be a JSON object/],
    ['null', /must be a JSON object/],
    ['{"rekeyAftreTime":1}', /unknown field "rekeyAftreTime"/],
    ['{"toString":1}', /unknown field "toString"/],
    ['{"rekeyTimeout":0}', /rekeyTimeout must be a positive number/],
    ['{"rekeyTimeout":"5"}', /rekeyTimeout must be a positive number/],
    ['{"rekeyTimeout":1e999}', /rekeyTimeout must be a positive number/],
  ])('refuses %s', (json, message) => {
    expect(() => parseTestTiming(json)).toThrow(message);
  });
});
