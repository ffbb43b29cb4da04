import type { CommandModule } from '../command.js';
import * as list from './list.js';

/**
 * Every core command module, in help order. Modules owned by other engineers (sim, udev,
 * monitor) are added here when they land; each exports `register(program, ctx)`.
 */
export const commandModules: readonly CommandModule[] = [list];
