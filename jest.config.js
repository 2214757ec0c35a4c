// "unit" needs nothing but Node; "net" needs root, network namespaces, TUN, wireguard-go and
// the built addon; "docker" also needs a running dockerd (scripts/docker-up.sh) and the lab
// image (lab/images/build.sh); "vm" boots Debian's kernel under qemu and runs the kernel-mode
// and kernel-WireGuard scenarios inside it (test/vm/); "lab" deploys lab/*.clab.yml with
// containerlab (lab/containerlab/install.sh) on dockerd; "swarm" starts three dockerds of its own
// in namespaces, as a swarm, with wgmpls as a managed plugin (test/swarm/). CI runs all six.
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
    { ...common, displayName: 'vm', testMatch: ['<rootDir>/test/vm/**/*.test.ts'] },
    { ...common, displayName: 'lab', testMatch: ['<rootDir>/test/lab/**/*.test.ts'] },
    { ...common, displayName: 'swarm', testMatch: ['<rootDir>/test/swarm/**/*.test.ts'] },
  ],
};
