/**
 * `peer encrypt`, `peers`, `previews`, `images` and `view`: offering images and looking at them.
 */
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { readFileLimited, writeFileAtomic } from '../../../peer/data-dir.js';
import { PEER_LIMITS } from '../../../protocol/peer-protocol.js';
import { ExitCode, UsageError } from '../../../util/errors.js';
import { printable } from '../../../util/printable.js';
import { DENIED_REASONS, describeGrant, describeReceived } from './describe.js';
import { parseImageId, parseImageRef, parseUsername } from './parse.js';
import { count } from '../../../util/words.js';
import { globals, note, output, say, withAgent } from './session.js';
import { defaultImagePath, shownImagePath } from './view-paths.js';

export function registerImageCommands(peer: Command): void {
  peer
    .command('encrypt')
    .description('use case 3: hide an image through the cloud and offer it to others')
    .argument('<image>', 'PNG or JPEG file (at most 12 MiB)')
    .option('-t, --title <title>', 'title others see (default: the file name)')
    .option('-o, --out <file>', 'also write the encrypted PNG here')
    .action(async (file: string, o: { title?: string; out?: string }, command: Command) => {
      const options = globals(command);
      const bytes = readFileLimited(file, 12 * 1024 * 1024, 'image');
      const title =
        o.title ??
        basename(file)
          .replace(/\p{Cc}/gu, '')
          .slice(0, 200);
      await withAgent(options, async (ops) => {
        if (!options.json)
          note(`encrypting ${basename(file)} (${bytes.length} bytes) through the cloud`);
        const result = await ops.encrypt(bytes, title, (step) => {
          if (!options.json) note(`  ${step}`);
        });
        if (o.out) writeFileAtomic(o.out, await ops.ownStego(result.image.image_id));
        output(options, result, () => {
          say(
            `image ${result.image.image_id} "${printable(result.image.title)}": encrypted by server ${result.server_id} in ${result.latency_ms} ms (${result.stego_size_bytes} bytes)${result.image.offered ? ', offered to others' : ''}`,
          );
          if (o.out) say(`  wrote ${o.out}`);
        });
      });
    });

  peer
    .command('peers')
    .description('use case 4: users online now and the images they offer')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const peers = await ops.peers();
        output(options, peers, () => {
          if (peers.length === 0) say('nobody else is online');
          for (const p of peers) {
            say(`${p.username}  (${p.address}:${p.port})`);
            if (p.images.length === 0) say('  offers nothing');
            for (const image of p.images)
              say(
                `  ${image.image_id}  "${printable(image.title)}"  ${image.width}x${image.height} ${image.media_type} ${image.size_bytes} bytes`,
              );
          }
        });
      });
    });

  peer
    .command('previews')
    .description("use case 4: fetch a user's low-resolution previews from their agent (P2P)")
    .argument('<user>', 'whose previews', parseUsername)
    .option('-o, --out <dir>', 'folder for the preview files', '.')
    .action(async (user: string, o: { out: string }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const previews = await ops.previews(user);
        const written: Array<{ image_id: string; title: string; path: string }> = [];
        for (const preview of previews) {
          const path = join(o.out, `${user}-${preview.image_id}.preview.jpg`);
          writeFileAtomic(path, await ops.preview(user, preview.image_id));
          written.push({ image_id: preview.image_id, title: preview.title, path });
        }
        output(options, written, () => {
          if (written.length === 0) say(`${user} offers no images`);
          for (const w of written) say(`${w.image_id}  "${printable(w.title)}"  -> ${w.path}`);
        });
      });
    });

  peer
    .command('images')
    .description('use case 7: images you received, with views left (--own: your own images)')
    .option('--own', 'your own images and who may view them')
    .action(async (o: { own?: boolean }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        if (o.own) {
          const images = await ops.ownImages();
          output(options, images, () => {
            if (images.length === 0) say('you have no images yet: cloudp2p peer encrypt <image>');
            for (const image of images) {
              say(
                `${image.image_id}  "${printable(image.title)}"  ${image.width}x${image.height}${image.withdrawn ? '  (withdrawn: not offered)' : image.offered ? '' : '  (not offered yet)'}`,
              );
              for (const g of image.grants) say(`  ${describeGrant(g)}`);
            }
          });
          return;
        }
        const received = await ops.received();
        output(options, received, () => {
          if (received.length === 0) say('you have received no images');
          for (const r of received) say(describeReceived(r));
        });
      });
    });

  peer
    .command('withdraw')
    .description(
      'stop offering one of your images: the directory no longer lists it (viewers keep their views unless --revoke)',
    )
    .argument('<image_id>', 'your image (see `peer images --own`)', parseImageId)
    .option('--revoke', "also revoke every viewer's access to it")
    .action(async (imageId: string, o: { revoke?: boolean }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const result = await ops.withdraw(imageId, { revokeGrants: o.revoke === true });
        output(options, result, () => {
          say(`withdrew ${imageId}: the directory no longer offers it; nobody can request it now`);
          for (const g of result.revoked) say(`  revoked: ${describeGrant(g)}`);
          const standing = result.image.grants.filter((g) => !g.revoked);
          if (standing.length > 0) {
            say(`  ${count(standing.length, 'viewer keeps', 'viewers keep')} their views:`);
            for (const g of standing) say(`    ${describeGrant(g)}`);
            say(
              `  to take them back: cloudp2p peer revoke ${imageId} <user> (or withdraw --revoke)`,
            );
          }
        });
      });
    });

  peer
    .command('view')
    .description('use case 7: write an image you may view to a file (uses one view)')
    .argument('[owner/image_id]', 'the image (yours or received)', parseImageRef)
    .option('--file <png>', 'view a copy held as a file instead')
    .option('-o, --out <file>', 'where to write what you may see')
    .action(
      async (
        ref: { owner: string; imageId: string } | undefined,
        o: { file?: string; out?: string },
        command: Command,
      ) => {
        const options = globals(command);
        if ((ref === undefined) === (o.file === undefined))
          throw new UsageError('give either <owner/image_id> or --file <png>');
        await withAgent(options, async (ops) => {
          const outcome = ref
            ? await ops.view(ref.owner, ref.imageId)
            : await ops.viewFile(
                readFileLimited(o.file as string, PEER_LIMITS.max_copy_bytes, 'image'),
              );
          const record = outcome.record;
          const stem = ref
            ? `${ref.owner}-${ref.imageId}`
            : `${basename(o.file as string).replace(/\.[^.]+$/, '')}.view`;
          const shown =
            record.verdict === 'shown'
              ? shownImagePath(o.out, stem, record.media_type)
              : { path: defaultImagePath(o.out, stem) };
          const out = shown.path;
          writeFileAtomic(out, outcome.image);
          if (shown.corrected) note(`cloudp2p: ${shown.corrected}`);
          output(options, { ...record, out }, () => {
            if (record.verdict === 'shown') say(`${record.message}; wrote ${out}`);
            else say(`not shown; the default image (a PNG) is in ${out}`);
          });
          if (record.verdict === 'default') {
            note(`cloudp2p: ${record.message}`);
            process.exitCode = DENIED_REASONS.has(record.reason)
              ? ExitCode.denied
              : ExitCode.corrupted;
          }
        });
      },
    );
}
