/**
 * IBM QRadar "Log Event Extended Format (LEEF)" 2.0 guide, "Predefined LEEF event attributes"
 * (https://www.ibm.com/docs/en/dsm?topic=overview-predefined-leef-event-attributes), all 45 in
 * the guide's order; `identSecondlp` is spelled as IBM publishes it (most likely a typo for
 * identSecondIp, which is reserved as well). "A user-defined key cannot use the same name as a
 * LEEF predefined key" (the guide's best practices): a record field of one of these names is
 * written as `<name>_2` (leef.ts).
 */
export const LEEF_PREDEFINED_KEYS: readonly string[] = [
  'cat', 'devTime', 'devTimeFormat', 'proto', 'sev', 'src', 'dst', 'srcPort', 'dstPort',
  'srcPreNAT', 'dstPreNAT', 'srcPostNAT', 'dstPostNAT', 'usrName', 'srcMAC', 'dstMAC',
  'srcPreNATPort', 'dstPreNATPort', 'srcPostNATPort', 'dstPostNATPort',
  'identSrc', 'identHostName', 'identNetBios', 'identGrpName', 'identMAC',
  'vSrc', 'vSrcName', 'accountName', 'srcBytes', 'dstBytes', 'srcPackets', 'dstPackets', 'totalPackets',
  'role', 'realm', 'policy', 'resource', 'url', 'groupID', 'domain',
  'isLoginEvent', 'isLogoutEvent', 'identSecondlp', 'calLanguage', 'calCountryOrRegion',
  'identSecondIp',
];
