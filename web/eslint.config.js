// ESLint for the front end: typescript-eslint's strict, type-aware rules on web/src.
// The generated wire types are checked by tsc only: their source is the server.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "dist/", "src/generated/"] },
    {
        // The generator and this file run under Node.js.
        files: ["scripts/**/*.mjs", "eslint.config.js", "vite.config.mjs"],
        extends: [js.configs.recommended],
        languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly" } },
    },
    {
        files: ["src/**/*.ts", "src/**/*.tsx"],
        extends: [js.configs.recommended, ...tseslint.configs.strictTypeChecked],
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
    },
);
