/**
 * Public entry of `@fastnet/core/testing`: the simulator pair harness and the
 * plugin contract that every plugin package runs from its own bun:test file.
 * Imports bun:test, so load it from tests only.
 */
export {
  CLIENT_ADDRESS,
  SERVER_ADDRESS,
  createPair,
  createUnconnectedPair,
  type CapturedDatagram,
  type Pair,
  type PairOptions,
  type Side,
  type SimPair,
} from "./harness.ts";
export {
  CONTRACT_CHECKS,
  GARBAGE_DATAGRAMS,
  checkDeadlines,
  checkDelivery,
  checkDeliveryUnderLoss,
  checkDeterminism,
  checkDisconnects,
  checkGarbage,
  checkIdentity,
  checkMtu,
  checkRegistration,
  pluginContract,
  runPluginContract,
  type ContractCheck,
  type ContractCheckName,
  type ContractEndpointConfig,
  type ContractOptions,
} from "./contract.ts";
export { macPlugin } from "./mac.ts";
