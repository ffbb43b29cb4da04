import type { CommandModule } from '../command.js';
import * as disconnectAll from './disconnect-all.js';
import * as list from './list.js';
import * as sim from './sim.js';

/**
 * Every core command module, in help order. Modules owned by other engineers (sim, udev,
 * monitor) are added here when they land; each exports `register(program, ctx)`.
 */
export const commandModules: readonly CommandModule[] = [list, disconnectAll, sim];
