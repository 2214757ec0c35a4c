// Ethertypes as the TUN's packet-information header and the kernel name them (linux/if_ether.h).
// One home: the TUN, the device and the MPLS code all tell packets apart by these numbers.

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
/** MPLS unicast: carried as message type 5. */
export const ETH_P_MPLS_UC = 0x8847;
/** MPLS multicast: carried as message type 6. */
export const ETH_P_MPLS_MC = 0x8848;
