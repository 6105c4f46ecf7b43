/** Jest for suites that need no servers (unit tests, compose validation): no global setup. */
const base = require('./jest.config.js');

module.exports = { ...base, globalSetup: undefined, globalTeardown: undefined };
