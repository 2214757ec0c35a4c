// Two projects: "unit" needs nothing but Node; "net" needs root, network namespaces,
// TUN, wireguard-go and the built addon (see README). CI runs both.
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'net', testMatch: ['<rootDir>/test/net/**/*.test.ts'] },
  ],
};
