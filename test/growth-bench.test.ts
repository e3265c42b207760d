import { expect } from 'chai';
import { copiedId, DEFAULT_LEVELS, parseLevels, takeGrowthFlag } from '../bench/growth.ts';

describe('growth benchmark: flags and copied ids', () => {
  it('should take --growth with or without levels out of argv', () => {
    const alone = ['node', 'run.ts', '--growth', '--sagas', '50'];
    expect(takeGrowthFlag(alone)).to.deep.equal(DEFAULT_LEVELS);
    expect(alone).to.deep.equal(['node', 'run.ts', '--sagas', '50']);
    const listed = ['node', 'run.ts', '--growth', '10k,1k,1000'];
    expect(takeGrowthFlag(listed)).to.deep.equal([1000, 10_000]);
    expect(listed).to.deep.equal(['node', 'run.ts']);
    expect(takeGrowthFlag(['node', 'run.ts', '--growth=100,1_000'])).to.deep.equal([100, 1000]);
    expect(takeGrowthFlag(['node', 'run.ts', '--transport', 'pulsar'])).to.equal(null);
  });

  it('should refuse levels that are not positive integers', () => {
    expect(() => parseLevels('0,10')).to.throw(/positive integers/);
    expect(() => parseLevels('1.5k')).not.to.throw();
    expect(() => parseLevels('ten')).to.throw(/positive integers/);
  });

  it('should give each copy of an id its own UUID-shaped id, the same every time', () => {
    const id = '5b440fc8-b4c4-4d91-be90-c756634412ac';
    // The value MariaDB's INSERT(INSERT(…MD5(CONCAT(id, '#', 7))…)) gives, as the bulk copy computes it.
    expect(copiedId(id, 7)).to.equal('e17d73ea-c81e-ce09-f728-43a3454dfdfa');
    expect(copiedId(id, 8)).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/).and.not.equal(copiedId(id, 7));
  });
});
