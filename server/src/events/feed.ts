// Feeds the live bus from the emitters that already exist: the deployer's recorded changes and inventory changes.
// (Drift, host-sync and ES-sync runs publish to ctx.live themselves.)
import type { Deployer } from '../deploy/deployer.js';
import type { InventoryEvents } from '../inventory/events.js';
import type { SyncWindows } from '../windows/service.js';
import type { LiveBus } from './live-bus.js';

export function feedLiveBus(bus: LiveBus, src: { deployer: Deployer; inventory: InventoryEvents; windows?: SyncWindows }): void {
  src.windows?.onChange((c) => bus.publish('window', { ...c }));
  src.deployer.events.on('change', (c) => {
    const { kind, ...data } = c;
    bus.publish(kind, data);
  });
  src.inventory.on('host.added', (c) => bus.publish('inventory', { change: 'added', id: c.host.id, ip: c.host.ip, origin: c.origin }));
  src.inventory.on('host.changed', (c) => bus.publish('inventory', { change: 'changed', id: c.host.id, ip: c.host.ip, origin: c.origin }));
  src.inventory.on('host.removed', (c) => bus.publish('inventory', { change: 'removed', id: c.id, ip: c.ip, origin: c.origin }));
}
