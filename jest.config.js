// "unit" needs nothing but Node; "net" needs root, network namespaces, TUN, wireguard-go and
// the built addon; "docker" also needs a running dockerd (scripts/docker-up.sh) and the lab
// image (lab/images/build.sh). CI runs all three.
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'net', testMatch: ['<rootDir>/test/net/**/*.test.ts'] },
    { ...common, displayName: 'docker', testMatch: ['<rootDir>/test/docker/**/*.test.ts'] },
  ],
};
