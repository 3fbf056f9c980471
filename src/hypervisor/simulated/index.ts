export { SimHost, DEFAULT_CPU_OVERCOMMIT, DEFAULT_SIM_CORES, DEFAULT_SIM_MEMORY_MIB } from './sim-host.js';
export type { SimHostOptions, SimLoad, SimVm } from './sim-host.js';
export { SimulatedHypervisor, SIM_URI } from './simulated-hypervisor.js';
export type { SimulatedHypervisorOptions } from './simulated-hypervisor.js';
export { SimLoadFile, SIM_LOAD_FILE_ENV, parseLoadFile } from './load-file.js';
export type { FileLoad } from './load-file.js';
