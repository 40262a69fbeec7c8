import { defineDirectoryCompliance } from './compliance.js';
import { harnessFactory, sqliteBackend } from './harness.js';

defineDirectoryCompliance('sqlite', harnessFactory(sqliteBackend()));
