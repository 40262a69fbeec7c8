/**
 * `peer request`, `more-views`, `inbox`, `accept`, `reject`, `grants`, `grant`, `set-quota` and
 * `revoke`: asking for views, answering, and changing who may view what.
 */
import type { Command } from 'commander';
import type { OfflineAllowance } from '../../../peer/api-types.js';
import {
  DEFAULT_OFFLINE_ALLOWANCE,
  HOUR_MS,
  OFFLINE_LIMITS,
} from '../../../peer/offline-allowance.js';
import { count } from '../../../util/words.js';
import { describeGrant, describeRequest } from './describe.js';
import { parseCount, parseImageId, parseImageRef, parseRequestId, parseUsername } from './parse.js';
import { globals, note, output, say, withAgent } from './session.js';

export function registerSharingCommands(peer: Command): void {
  peer
    .command('request')
    .description('use case 5: ask a user for an image with a number of views')
    .argument('<user>', 'the owner', parseUsername)
    .argument('<image_id>', 'the image (see `peer peers`)', parseImageId)
    .requiredOption('--views <n>', 'views asked for (1-10000)', parseCount(1, 10_000))
    .action(async (user: string, imageId: string, o: { views: number }, command: Command) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          const created = await ops.request(user, imageId, o.views);
          output(options, created, () => {
            say(
              `request ${created.request.request_id} sent: ${count(o.views, 'view')} of ${user}/${imageId}`,
            );
            say(
              created.owner_notified
                ? `  ${user}'s agent was told at once`
                : `  ${user} is offline: the request waits in the directory until they sign in`,
            );
          });
        },
        'the copy can only be received by a running agent: `cloudp2p peer login`',
      );
    });

  peer
    .command('more-views')
    .description('use case 8: ask the owner for more views of an image you received')
    .argument('<owner/image_id>', 'the image', parseImageRef)
    .requiredOption('--views <n>', 'extra views (1-10000)', parseCount(1, 10_000))
    .action(
      async (ref: { owner: string; imageId: string }, o: { views: number }, command: Command) => {
        const options = globals(command);
        await withAgent(options, async (ops) => {
          const created = await ops.request(ref.owner, ref.imageId, o.views);
          output(options, created, () => {
            say(
              `asked ${ref.owner} for ${count(o.views, 'more view')} of ${ref.imageId} (request ${created.request.request_id}, ${created.request.kind})`,
            );
            if (!created.owner_notified)
              say(`  ${ref.owner} is offline: it waits until they sign in`);
          });
        });
      },
    );

  peer
    .command('inbox')
    .description('use case 6: requests from others (pending unless --all); --sent for yours')
    .option('--all', 'include answered requests')
    .option('--sent', 'your own requests instead')
    .action(async (o: { all?: boolean; sent?: boolean }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const requests = await ops.requests(
          o.sent ? 'requester' : 'owner',
          o.all ? undefined : 'pending',
        );
        output(options, requests, () => {
          if (requests.length === 0) say(o.sent ? 'you have no requests' : 'no pending requests');
          for (const r of requests) say(describeRequest(r));
        });
      });
    });

  for (const decision of ['accept', 'reject'] as const) {
    const answer = peer
      .command(decision)
      .description(`use case 6: ${decision} a request (see \`peer inbox\`)`)
      .argument('<request_id>', 'the request id', parseRequestId);
    if (decision === 'accept') withOfflineOptions(answer);
    answer.action(async (requestId: string, o: OfflineOptions, command: Command) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          // Accepting makes the viewer's copy through the cloud (seconds for a large image):
          // each step is shown as it happens, as `encrypt` does.
          const result = await ops.answer(
            requestId,
            decision === 'accept' ? 'accepted' : 'rejected',
            offlineOf(o),
            decision === 'accept' && !options.json ? (step) => note(`  ${step}`) : undefined,
          );
          output(options, result, () => {
            say(
              `${result.request.status} ${result.request.requester}'s request for ${result.request.image_id}`,
            );
            if (result.grant) say(`  ${describeGrant(result.grant)}`);
          });
        },
        decision === 'accept'
          ? 'the copy goes to the viewer now if online, else when both agents are online'
          : undefined,
      );
    });
  }

  peer
    .command('grants')
    .description('use case 9: the views you granted, and what still waits for offline viewers')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const grants = await ops.grants();
        output(options, grants, () => {
          if (grants.length === 0) say('you granted nothing yet');
          for (const g of grants) say(describeGrant(g));
        });
      });
    });

  const grantAction =
    (verb: string) =>
    async (
      imageId: string,
      user: string,
      quota: number,
      command: Command,
      offline?: OfflineAllowance,
    ) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          const grant = await ops.setGrant(imageId, user, quota, offline);
          output(options, grant, () => say(`${verb}: ${describeGrant(grant)}`));
        },
        'a viewer who is online gets the change now; an offline one at sign-in',
      );
    };
  withOfflineOptions(
    peer
      .command('grant')
      .description('use case 9: let a user view your image N times in total (they get a copy)')
      .argument('<image_id>', 'your image', parseImageId)
      .argument('<user>', 'the viewer', parseUsername)
      .requiredOption('--views <n>', 'total views (0-1000000)', parseCount(0, 1_000_000)),
  ).action(
    async (
      imageId: string,
      user: string,
      o: { views: number } & OfflineOptions,
      command: Command,
    ) => grantAction('granted')(imageId, user, o.views, command, offlineOf(o)),
  );
  peer
    .command('set-quota')
    .description("use case 9: change a viewer's total views (also while they are offline)")
    .argument('<image_id>', 'your image', parseImageId)
    .argument('<user>', 'the viewer', parseUsername)
    .argument(
      '<views>',
      'total views (0-1000000; views already used count)',
      parseCount(0, 1_000_000),
    )
    .action(async (imageId: string, user: string, views: number, _o, command: Command) =>
      grantAction('quota set')(imageId, user, views, command),
    );
  peer
    .command('revoke')
    .description("use case 9: remove a viewer's access (also while they are offline)")
    .argument('<image_id>', 'your image', parseImageId)
    .argument('<user>', 'the viewer', parseUsername)
    .action(async (imageId: string, user: string, _o, command: Command) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          const grant = await ops.revoke(imageId, user);
          output(options, grant, () => say(`revoked: ${describeGrant(grant)}`));
        },
        'a viewer who is online gets the change now; an offline one at sign-in',
      );
    });
}

interface OfflineOptions {
  offlineViews?: number;
  offlineHours?: number;
}

/** The owner's offline allowance, signed into the copy made now (docs/SHARING.md). */
function withOfflineOptions(command: Command): Command {
  return command
    .option(
      '--offline-views <n>',
      `views the viewer may use while their agent cannot reach the cloud (0-${OFFLINE_LIMITS.max_views}; default ${DEFAULT_OFFLINE_ALLOWANCE.views})`,
      parseCount(0, OFFLINE_LIMITS.max_views),
    )
    .option(
      '--offline-hours <h>',
      `within how many hours of their last contact with the cloud (1-${OFFLINE_LIMITS.max_window_ms / HOUR_MS}; default ${DEFAULT_OFFLINE_ALLOWANCE.window_ms / HOUR_MS})`,
      parseCount(1, OFFLINE_LIMITS.max_window_ms / HOUR_MS),
    );
}

function offlineOf(o: OfflineOptions): OfflineAllowance | undefined {
  if (o.offlineViews === undefined && o.offlineHours === undefined) return undefined;
  return {
    views: o.offlineViews ?? DEFAULT_OFFLINE_ALLOWANCE.views,
    window_ms:
      o.offlineHours === undefined ? DEFAULT_OFFLINE_ALLOWANCE.window_ms : o.offlineHours * HOUR_MS,
  };
}
