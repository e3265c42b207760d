import { DataTypes } from 'sequelize';

/**
 * A column for JSON documents of any size: LONGTEXT on MySQL (TEXT stops at 64 KiB), TEXT
 * on SQLite (which has no length variants and warns about them).
 */
export function longText(dialect: string) {
  return { type: dialect === 'mysql' ? DataTypes.TEXT('long') : DataTypes.TEXT, allowNull: false };
}
